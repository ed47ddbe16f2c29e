; hello.m3: the smallest program that prints something.
        push "hello, world"
        print
