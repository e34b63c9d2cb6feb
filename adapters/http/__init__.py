"""The live service: aiohttp app around the embedded store and the routing core."""
