"""Family studies built on the engine: charge stability diagrams (polarizers), Drude and drag
weights and trion binding (two wires)."""
