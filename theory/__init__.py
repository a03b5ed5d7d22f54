"""Rate-distortion theory: sources, bounds, lattice constants, Blahut-Arimoto, RD sweeps."""
