import sys

print("Hello from Python", sys.flags.isolated)
