; stale.m3: using a handle after free is the runtime error "stale handle".
        push "short-lived"
        dup
        store keep          ; a second copy of the handle, in a variable
        free                ; frees the object: the copy in keep is now stale
        push "freed; now reading the stale copy"
        print
        load keep           ; moving a stale handle is fine...
        print               ; ...using it is not: "line 9: stale handle"
