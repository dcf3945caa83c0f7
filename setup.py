"""Packaging for mmattn, including OpenMMLab's mim extension.

`mim train mmattn <config>` looks for ``mmattn/.mim/{configs,tools}`` (and
``mim search`` for ``model-index.yml``). A regular wheel gets copies there;
an editable install (PEP 660 ``editable_wheel`` or legacy ``develop``) gets
symlinks, so edits to configs and tools are seen without reinstalling.
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.develop import develop

ROOT = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def read_requirements(name: str) -> list:
    with open(osp.join(ROOT, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def read_version() -> str:
    namespace = {}
    with open(osp.join(ROOT, 'mmattn', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def populate_mim_dir(target: str, symlink: bool) -> None:
    os.makedirs(target, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(ROOT, name), osp.join(target, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if symlink:
            os.symlink(osp.relpath(src, target), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)


class BuildPyWithMim(build_py):
    """build_py that also provides ``mmattn/.mim`` (copies or symlinks)."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            populate_mim_dir(osp.join(ROOT, 'mmattn', '.mim'), symlink=True)
        else:
            populate_mim_dir(
                osp.join(self.build_lib, 'mmattn', '.mim'), symlink=False)


class DevelopWithMim(develop):
    """Legacy ``setup.py develop``: symlink ``mmattn/.mim`` in the source."""

    def run(self):
        populate_mim_dir(osp.join(ROOT, 'mmattn', '.mim'), symlink=True)
        super().run()


setup(
    name='mmattn',
    version=read_version(),
    description='CNN attention modules (EPSANet, EMA, DCA, EMCA, DMSANet and '
    'their baselines) for MMDetection and MMPretrain',
    long_description=open(osp.join(ROOT, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    keywords='computer vision, attention, object detection, OpenMMLab',
    packages=find_packages(include=('mmattn', 'mmattn.*')),
    include_package_data=True,
    python_requires='>=3.8',
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    license='Apache License 2.0',
    install_requires=read_requirements('runtime'),
    extras_require={
        'tests': read_requirements('tests'),
        'optional': read_requirements('optional'),
        'mim': read_requirements('mim') + ['openmim'],
    },
    cmdclass={'build_py': BuildPyWithMim, 'develop': DevelopWithMim},
    zip_safe=False,
)
