module arraycopy.io/bench/loadclient

go 1.26
