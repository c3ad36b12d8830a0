"""The performance table: `python -m benchmarks` runs every benchmark and prints it (see run_all.py).

One module per row (or group of rows), each runnable alone with `python -m benchmarks.<module>`:
`run() -> list[Row]` measures the figure and its baseline in the same run, on loopback."""
