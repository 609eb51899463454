"""Network sources: polite HTTP clients that turn remote APIs into bytes and records.

``http`` (the polite client every source uses: User-Agent with a contact address, a delay between
requests, Retry-After, exponential backoff with jitter, bounded tries), ``oai`` (arXiv OAI-PMH
ListRecords with resumption tokens), ``arxiv_api`` (the arXiv export API, Atom), ``hf`` (Hugging
Face's daily papers list). Nothing here writes the store: ``papersift.harvest`` does.
"""
