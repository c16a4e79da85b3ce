"""Org CSVs that several test modules import (one college, written once).

ROLES_ORG: a college whose units name every role: 孙宣 is the propaganda department's contact;
褚振华 heads JWC (its supervisor falls back to the secretary of its branch JG1, 郑晓东);
朱建平 heads JDX, 赵敏 supervises it. ROLES_ORG_NO_JDX is the same college without JDX."""

ROLES_ORG_NO_JDX = """\
code,name,kind,parent,secretary,email,head,head_email,supervisor,supervisor_email,propaganda,propaganda_email
DW,测试学院党委,党委,,王建国,wang@example.edu.cn,,,,,,
JG1,机关第一党支部,党支部,DW,郑晓东,zheng@example.edu.cn,,,,,,
XCB,党委宣传部,处室,JG1,李文静,li@example.edu.cn,李文静,li@example.edu.cn,,,孙宣,sun@example.edu.cn
JWC,教务处,处室,JG1,褚振华,chu@example.edu.cn,褚振华,chu@example.edu.cn,,,,
"""
ROLES_ORG = ROLES_ORG_NO_JDX + (
    "JDX,机电工程系党支部,系党支部,DW,杨志强,yang@example.edu.cn,朱建平,zhu@example.edu.cn,赵敏,zhao@example.edu.cn,,\n")
