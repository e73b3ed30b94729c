"""Pure cores of the curator: no file, network or clock access happens in this package."""
