#!/usr/bin/env python3
"""Book-Crossing's default view computed independently of Tandem, from the raw CSV files alone.

Reads BX-Book-Ratings.csv with the csv module (semicolon, double quote, backslash escape, Latin-1), normalises ISBNs
(upper case, letters and digits only), keeps each (user, ISBN) pair once, cuts to the 10-core (users and items with at
least 10 ratings, repeated until stable) and prints the counts `tandem data stats --dataset book-crossing` must show.
Usage: python3 scripts/reference/independent_bookcrossing.py [data/book-crossing]
"""
import collections
import csv
import re
import sys

directory = sys.argv[1] if len(sys.argv) > 1 else "data/book-crossing"
with open(f"{directory}/BX-Book-Ratings.csv", encoding="latin-1", newline="") as f:
    rows = list(csv.reader(f, delimiter=";", quotechar='"', escapechar="\\", doublequote=False))[1:]
pairs = set()
for user, isbn, rating in rows:
    isbn = re.sub(r"[^0-9A-Z]", "", isbn.upper())
    if isbn and 0 <= int(rating) <= 10:
        pairs.add((user, isbn))
print(f"ratings {len(rows)}  distinct pairs {len(pairs)}")
k = 10
while True:
    users = collections.Counter(u for u, _ in pairs)
    items = collections.Counter(i for _, i in pairs)
    kept = {(u, i) for u, i in pairs if users[u] >= k and items[i] >= k}
    if len(kept) == len(pairs):
        break
    pairs = kept
users = {u for u, _ in pairs}
items = {i for _, i in pairs}
print(f"10-core: users {len(users)}  items {len(items)}  interactions {len(pairs)}  density {len(pairs) / len(users) / len(items):.4f}")
