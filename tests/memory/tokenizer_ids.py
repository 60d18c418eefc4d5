"""Token ids recorded from tokenizers 0.23.3 (Tokenizer.from_file(tokenizer.json), no padding,
truncation 256) for the texts below, to check the plain-Python WordPiece against."""

from __future__ import annotations

RECORDED: dict[str, list[int]] = {
    "no space left on device while writing /var/log/syslog": [101, 2053, 2686, 2187, 2006, 5080, 2096, 3015, 1013, 13075, 1013, 8833, 1013, 25353, 14540, 8649, 102],
    "SystemMaxUse=500M in journald.conf": [101, 2291, 17848, 8557, 1027, 3156, 2213, 1999, 3485, 2094, 1012, 9530, 2546, 102],
    "H\u00e9llo W\u00f6rld na\u00efve caf\u00e9": [101, 7592, 2088, 15743, 7668, 102],
    "E_ACCES: permission denied (errno 13)": [101, 1041, 1035, 16222, 2229, 1024, 6656, 6380, 1006, 9413, 19139, 2410, 1007, 102],
    "resolv.conf nameserver 1.1.1.1": [101, 24501, 4747, 2615, 1012, 9530, 2546, 3415, 2121, 6299, 1015, 1012, 1015, 1012, 1015, 1012, 1015, 102],
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 mixed \u4e2d\u6587": [101, 1864, 1876, 1950, 1671, 30239, 30227, 30233, 30240, 3816, 1746, 1861, 102],
    "tab\there\nnewline\r\u0000\u0007 ctrl": [101, 21628, 2182, 2047, 4179, 14931, 12190, 102],
    "emoji \ud83d\ude42 and \u00fcmlaut \u00df stra\u00dfe": [101, 7861, 29147, 2072, 100, 1998, 8529, 17298, 2102, 1096, 2358, 27807, 102],
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b": [101, 100, 1038, 102],
    "x86_64 kernel 6.1.0-13-amd64 dpkg -l | grep linux-image": [101, 1060, 20842, 1035, 4185, 16293, 1020, 1012, 1015, 1012, 1014, 1011, 2410, 1011, 2572, 2094, 21084, 1040, 2361, 2243, 2290, 1011, 1048, 1064, 24665, 13699, 11603, 1011, 3746, 102],
    "": [101, 102],
    "   ": [101, 102],
    "\u2019quotes\u2019 \u201cdouble\u201d \u2014 dash \u2026 ellipsis": [101, 1521, 16614, 1521, 1523, 3313, 1524, 1517, 11454, 1529, 3449, 15000, 6190, 102],
    "supercalifragilisticexpialidocious antidisestablishmentarianism": [101, 3565, 9289, 10128, 29181, 24411, 4588, 10288, 19312, 21273, 10085, 6313, 3424, 10521, 4355, 7875, 13602, 3672, 12199, 2964, 102],
}
