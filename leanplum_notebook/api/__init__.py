"""The export API on the wire: the HTTP client, polling a job, downloading its files.

Nothing here reads or writes the cache, loads tables or draws charts.
"""
