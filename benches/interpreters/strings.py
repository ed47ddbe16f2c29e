# strings: 200,000 int-to-string conversions appended to a line, which is
# counted and restarted whenever it passes 100 characters.
def main():
    line = ""
    total = 0
    for i in range(200000):
        line = line + str(i) + ","
        if len(line) > 100:
            total += len(line)
            line = ""
    print(total)
    print(line)


main()
