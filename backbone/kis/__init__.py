"""KIS (Korea Investment & Securities) Open API protocol: requests, control replies, data frames."""
