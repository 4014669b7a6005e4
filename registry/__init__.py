"""The directory of supervised institutions and their staff (监管对象名录库, 一户一档)."""
