"""Where the data comes from: ``fetch``/``plan`` over the export API, and ``connect``."""
