"""Framework adapters (PyTorch). Each adapter imports its framework lazily."""
