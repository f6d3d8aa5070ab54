"""The three indexes (content, collaborative, semantic) behind one contract, and their artifacts."""
