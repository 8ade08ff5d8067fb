"""The portal's pages, one module per group of the leaflets' screens."""
