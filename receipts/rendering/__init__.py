"""Turning a document's snapshot into its PDF: the words, the HTML, the safe fetcher, the
Factur-X XML and the PDF/A-3b file that carries it."""
