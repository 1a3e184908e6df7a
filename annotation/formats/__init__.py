"""Import formats: each turns rows into item and label records; annotation.ingest writes them."""
