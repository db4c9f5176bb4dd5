"""One module per authentication method, each wrapping its library."""
