; fib.m3: the Fibonacci numbers fib(0) to fib(30), computed in a loop.
; Every number is an object in the pool: the loop makes garbage on every turn,
; and the VM collects it whenever the small pool fills up.
.pool 2K
        push 0
        store a             ; a = fib(i)
        push 1
        store b             ; b = fib(i + 1)
        push 0
        store i
loop:   load i
        push 30
        gt
        jnz done            ; stop after i = 30
        call show
        load a
        load b
        dup
        store a             ; a = b
        add
        store b             ; b = a + b
        load i
        push 1
        add
        store i
        jmp loop
done:   push "the golden ratio is about"
        print
        load b
        load a
        div                 ; two ints divide as ints: 1
        print
        load b
        push 1.0
        mul                 ; an int times a float is a float
        load a
        div
        print
        halt

; show: prints "fib(i) = a". Uses the variables i and a; leaves the stack as it found it.
show:   push "fib("
        load i
        tostr
        concat
        push ") = "
        concat
        load a
        tostr
        concat
        print
        ret
