# torture: 200 rounds of: make 400 small strings and keep them, drop every
# other one, then make one string of 8000 characters.
def main():
    total = 0
    for round in range(200):
        keep = []
        for i in range(400):
            keep.append("item-" + str(i) + "-" + str(round))
        for i in range(0, 400, 2):
            keep[i] = None
        big = "x" * 8000
        total += len(big)
        for i in range(1, 400, 2):
            total += len(keep[i])
    print(total)


main()
