"""The playground page's static files (HTML, CSS, JavaScript), served by `routes/playground.py`."""
