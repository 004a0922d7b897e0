"""Finding what the restoration needs from the blurred data itself."""
