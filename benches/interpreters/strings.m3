; strings: 200,000 int-to-string conversions appended to a line, which is
; counted and restarted whenever it passes 100 characters.
.pool 64K
        push ""
        store line
        push 0
        store total
        push 0
        store i
loop:   load i
        push 200000
        lt
        jz done
        load line
        load i
        tostr
        concat
        push ","
        concat
        dup
        store line
        len
        push 100
        gt
        jz next
        load total
        load line
        len
        add
        store total
        push ""
        store line
next:   load i
        push 1
        add
        store i
        jmp loop
done:   load total
        print
        load line
        print
