"""Quantizers: lattices (Z^n, D_n, E8) and scalar designs."""
