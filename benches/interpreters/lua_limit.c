/* lua_limit LIMIT FILE: runs a Lua 5.4 file in a state whose allocator refuses to hold more than LIMIT
 * bytes at once (the bytes Lua asks for; malloc's own overhead is not counted). Prints "peak N" (the most
 * bytes held) on stderr. Built by `cargo run -p mem3-benches --bin interpreters` when cc and the Lua 5.4
 * headers are there. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    size_t used, limit, peak;
} Budget;

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    Budget *b = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        b->used -= old;
        return NULL;
    }
    if (nsize > old && b->used - old + nsize > b->limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (p) {
        b->used = b->used - old + nsize;
        if (b->used > b->peak) b->peak = b->used;
    }
    return p;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: lua_limit LIMIT FILE\n");
        return 2;
    }
    Budget b = {0, strtoull(argv[1], NULL, 10), 0};
    lua_State *L = lua_newstate(budget_alloc, &b);
    if (!L) {
        fprintf(stderr, "not enough memory for a Lua state\n");
        return 1;
    }
    luaL_openlibs(L);
    int rc = luaL_dofile(L, argv[2]);
    if (rc != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
    fprintf(stderr, "peak %zu\n", b.peak);
    lua_close(L);
    return rc == LUA_OK ? 0 : 1;
}
