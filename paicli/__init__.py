"""paicli: batch green/blue-screen background replacement for film post-production.

Importing the package is cheap: heavy modules (numpy, PyAV, torch) load on first use.
"""
__version__ = "0.1.0"
