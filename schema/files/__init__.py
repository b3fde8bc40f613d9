"""Files on cards: the File type, uploads (multipart and direct to S3), deletion."""
