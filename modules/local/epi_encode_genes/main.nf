process EPI_ENCODE_GENES {
    tag "${meta.id}"
    label 'process_high'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(genes), path(elements), path(genome), path(genome_index), path(hic), path(expression)

    output:
    tuple val(meta), path("${prefix}.genes.h5"), emit: store
    path "versions.yml"                        , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def hic_arg = hic ? "--hic ${hic}" : ''
    def expression_arg = expression ? "--expression ${expression}" : ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-encode genes \\
        --genes ${genes} \\
        ${expression_arg} \\
        --elements ${elements} \\
        --genome ${genome} \\
        ${hic_arg} \\
        --out ${prefix}.genes.h5 \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.genes.h5

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
