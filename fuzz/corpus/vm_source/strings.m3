; strings.m3: building strings with concat, tostr and len.
; A triangle of stars: each row is the previous row with one more star.
        push ""
        store row
        push 0
        store n
next:   load row
        push "*"
        concat
        dup
        store row
        print
        load n
        push 1
        add
        dup
        store n
        push 5
        lt
        jnz next

; Numbers become text with tostr, exactly as print writes them.
        push "pi is about "
        push 355
        push 113.0
        div
        tostr
        concat
        print
        push "one tenth is "
        push 0.1
        tostr
        concat
        print
        push 2.5e-7
        print
        push 1e308
        push 10.0
        mul
        print               ; inf

; len counts characters (Unicode scalar values), not bytes.
        push "héllo, wörld ✓"
        dup
        print
        len
        print               ; 14

; Strings compare by content (eq) and by their bytes (lt).
        push "apple"
        push "apple"
        eq
        print               ; 1: same content, different objects
        push "apple"
        push "banana"
        lt
        print               ; 1
        push "10"
        push 10
        eq
        print               ; 0: a string never equals a number

; Escapes: \t, \", \\ and \n.
        push "tab:\there, quote: \"; backslash: \\\nsecond line"
        print
