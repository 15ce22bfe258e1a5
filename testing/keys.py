"""The record key the tests seal case events with. PostgreSQL keeps no key file: every store on it, and every
`serve` process, is given this key."""

TEST_RECORD_KEY_HEX = "5eed" * 16
TEST_RECORD_KEY = bytes.fromhex(TEST_RECORD_KEY_HEX)
