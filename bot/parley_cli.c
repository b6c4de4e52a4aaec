/* parley: the admin CLI (skeleton). */
#include <stdio.h>

int main(void)
{
    puts("parley " PARLEY_VERSION);
    return 0;
}
