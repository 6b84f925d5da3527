process EPI_PRIORITIZE {
    tag "${meta.id}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(pairs), path(dnase), path(h3k27ac), path(hic)

    output:
    tuple val(meta), path("${prefix}.abc.tsv"), emit: scores
    path "versions.yml"                       , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def dnase_arg = dnase ? "--dnase ${dnase}" : ''
    def h3k27ac_arg = h3k27ac ? "--h3k27ac ${h3k27ac}" : ''
    def hic_arg = hic ? "--hic ${hic}" : ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-prioritize abc \\
        --pairs ${pairs} \\
        ${dnase_arg} \\
        ${h3k27ac_arg} \\
        ${hic_arg} \\
        --out ${prefix}.abc.tsv \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.abc.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
