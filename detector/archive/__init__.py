"""Scanning an archive: thousands of files, on one computer or a Ray cluster, resumable (``scan-archive``).

``sources`` expands folders and lists into files; ``rows`` turns each file's result into table rows;
``store`` keeps them as a Parquet dataset that a rerun resumes from; ``worker`` analyses files on one core with the
models loaded once; ``engine`` spreads the files over Ray workers, retries a file whose worker died, and writes
rows as files finish. Ray is imported only by ``engine``, and only when a scan starts: it is not part of the app.
"""
