"""The matching engine: pure functions over msgspec Structs, no I/O (DESIGN 3 and 4)."""
