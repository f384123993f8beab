"""Embedded AWS emulator: moto plus what StreamFlix DR needs and moto lacks."""
