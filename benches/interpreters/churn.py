# churn: a live set of 64 strings; 200,000 times a pseudo-random one is
# replaced by a new string of varying length.
def main():
    slots = [str(k) for k in range(64)]
    r = 12345
    for i in range(200000):
        r = (r * 1103515245 + 12345) % 2147483648
        k = (r // 65536) % 64
        slots[k] = str(r) + "-" + str(i)
    total = 0
    for s in slots:
        total += len(s)
    print(total)
    print(slots[0])


main()
