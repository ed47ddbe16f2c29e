; arith: an integer loop, s = (s + i*i) mod 1000003 for i below 1,000,000.
.pool 64K
        push 0
        store s
        push 0
        store i
loop:   load i
        push 1000000
        lt
        jz done
        load s
        load i
        dup
        mul
        add
        push 1000003
        mod
        store s
        load i
        push 1
        add
        store i
        jmp loop
done:   load s
        print
