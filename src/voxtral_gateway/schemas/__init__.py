"""Request and response Structs of the public API."""
