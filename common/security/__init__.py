"""Security: who the caller is (tokens), what they may do (policy), and pseudonyms for IPs."""
