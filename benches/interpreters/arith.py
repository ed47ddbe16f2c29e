# arith: an integer loop, s = (s + i*i) mod 1000003 for i below 1,000,000.
def main():
    s = 0
    for i in range(1000000):
        s = (s + i * i) % 1000003
    print(s)


main()
