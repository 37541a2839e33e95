"""What a person touches: the export form, the HTML report, the demo and the command line."""
