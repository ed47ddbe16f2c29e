; defrag.m3: a program that succeeds only because the VM defragments the pool.
; Run it with defragmentation turned off and it stops with "out of memory".
.pool 640               ; 544 bytes of blocks (the rest is the pool's metadata)

; Eight 38-character strings (64-byte blocks each, 512 bytes) nearly fill the pool.
; Each is kept live in a variable, so garbage collection can free none of them.
        push "string a is live and survives the move"
        store a
        push "string b is live and survives the move"
        store b
        push "string c is live and survives the move"
        store c
        push "string d is live and survives the move"
        store d
        push "string e is live and survives the move"
        store e
        push "string f is live and survives the move"
        store f
        push "string g is live and survives the move"
        store g
        push "string h is live and survives the move"
        store h

; Free every other one: four 64-byte holes, each between two live strings.
        load a
        free
        load c
        free
        load e
        free
        load g
        free

; This string needs a 176-byte block. The free space (four holes and the 32-byte tail) holds it,
; no single hole does, and gc finds no garbage: only defragmenting makes room.
        push "This literal needs a 176-byte block: no hole left by free is that large, but all the holes together are, once defrag moves the live strings together."
        len
        print
; The live strings moved; their handles still reach them.
        load b
        print
        load d
        print
        load f
        print
        load h
        print
