"""The contract page: server-rendered HTML and SVG charts of a contract's health."""
