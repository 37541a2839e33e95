"""The Dask engine: read the tables as partitions and run every metric's reduction on them.

Imported only when asked for (``leanplum_notebook.dask_engine``, ``load(engine="dask")`` or a
Dask frame handed to a metric); the pandas path never imports it.
"""
