"""The warehouse's pure core: decoding batches, scrubbing text, mapping events to table rows."""
