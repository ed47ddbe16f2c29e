; fib: recursive fib(27), the result passed on the stack.
.pool 64K
        push 27
        call fib
        print
        halt
; fib: n -> fib(n)
fib:    dup
        push 2
        lt
        jnz base
        dup
        push 1
        sub
        call fib
        swap
        push 2
        sub
        call fib
        add
base:   ret
