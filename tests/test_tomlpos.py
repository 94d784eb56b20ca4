from harness.study.tomlpos import KeyLines

DOC = '''schema_version = 1
notes = """
fake = 1
"""
[[conditions]]
codec = "opus"
[conditions.options]
vbr = false

[[conditions]]
codec = "x"
options.bandwidth = "wb"
[rater]
"screening" = "bs1534"  # a quoted key
'''


def test_key_lines():
    k = KeyLines(DOC)
    assert k.line("schema_version") == 1
    assert k.line("fake") == 1  # inside a multi-line string: not a key (falls back to line 1)
    assert k.line("conditions", 0) == 5 and k.line("conditions", 0, "codec") == 6
    assert k.line("conditions", 0, "options", "vbr") == 8
    assert k.line("conditions", 1, "codec") == 11
    assert k.line("conditions", 1, "options", "bandwidth") == 12
    assert k.line("conditions", 1, "options", "missing") == 12  # nearest known parent
    assert k.line("rater", "screening") == 14
